"""Collaboration (issue 15): shared fixtures — a real SMTP server on loopback (aiosmtpd), fast passwords."""

from tests.mail.smtp import smtp
from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords", "smtp"]
