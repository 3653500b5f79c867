"""app/exchange: CSV and XLSX exports, the full dump and its import, bulk project imports."""

from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords"]
