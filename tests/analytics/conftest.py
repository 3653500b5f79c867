from tests.forecasts.conftest import history, history_database
from tests.support.accounts import fast_passwords

__all__ = ["fast_passwords", "history", "history_database"]
