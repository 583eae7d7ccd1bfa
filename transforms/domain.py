"""The domain's constants and month arithmetic, defined once: channels, cost categories, return types, thresholds."""

from __future__ import annotations

import datetime as dt

# The closed set of channels (DESIGN 3) and each one's name in words ('all': the whole service); each has a channel
# type: digital = online, assisted_digital, non_digital. The names reach readers through the data package (the
# channel field's categories), from which the dashboards read them.
CHANNEL_NAMES = {"all": "All channels", "online": "Online", "phone": "Phone", "face_to_face": "Face to face",
                 "paper": "Paper", "assisted_digital": "Assisted digital", "other": "Other"}
CHANNELS = tuple(channel for channel in CHANNEL_NAMES if channel != "all")
COST_CATEGORIES = ("staff", "it", "accommodation", "overheads", "third_party", "other")
RETURN_TYPES = ("transactions", "costs", "satisfaction")

# A month-on-month ratio beyond this (or below its inverse) is flagged as a jump.
MONTH_ON_MONTH_JUMP = 3.0


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after (or before, when negative) the month of `day`."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)
