"""Kiosk ticket printing on ESC/POS printers (python-escpos): the slip's bytes (slip.py), the
devices (device.py), and printing a new ticket or voiding it (kiosk.py)."""
