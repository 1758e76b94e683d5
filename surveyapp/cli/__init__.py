"""The `surveyapp` command. Commands live in one module per area and share the services
with the web views."""
from .base import main  # noqa: F401
from . import core  # noqa: F401,E402  (registers commands)

for _module in ("mailing", "reports", "ops", "fidelity", "cases"):
    try:
        __import__(f"{__name__}.{_module}")
    except ModuleNotFoundError as error:  # an area not built yet
        if error.name != f"{__name__}.{_module}":
            raise
