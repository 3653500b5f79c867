"""app/mail: the outbox, the SMTP sender against a real server on loopback (aiosmtpd), preferences."""

from tests.mail.smtp import smtp
from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords", "smtp"]
