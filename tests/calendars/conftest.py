"""app/calendars: iCalendar feeds of deadlines, by secret token, following their owner's rights."""

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]
