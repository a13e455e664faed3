"""The call voice: a pack of WAV clips (one per token), joined per call, spoken in order."""
