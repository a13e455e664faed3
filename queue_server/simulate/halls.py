"""Halls made for measuring: one service, N identical windows, open on weekdays."""

from __future__ import annotations

from queue_server.config import HallConfig

NO_TOKEN = "0" * 64  # nobody acts at these windows over HTTP


def one_service(windows: int, mean_minutes: float, hall_id: str = "one") -> HallConfig:
    """One service A with `windows` windows serving only it, FIFO (one class)."""
    weekday = ["08:30-17:30"]
    return HallConfig.model_validate(
        {
            "hall": {"id": hall_id, "name": {"zh": "单业务大厅"}, "address": {"zh": "-"}},
            "hours": dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), weekday),
            # six digits: a steady run at thousands an hour issues more than 999 a day
            "services": [
                {"id": "A", "name": {"zh": "综合业务"}, "avg_minutes": mean_minutes, "width": 6}
            ],
            "classes": [{"id": "normal", "name": {"zh": "普通"}}],
            "windows": [
                {
                    "id": str(i),
                    "name": {"zh": f"{i}号窗口"},
                    "services": {"A": 0},
                    "token_sha256": NO_TOKEN,
                }
                for i in range(1, windows + 1)
            ],
            "managers": {"token_sha256": [NO_TOKEN]},
        }
    )
