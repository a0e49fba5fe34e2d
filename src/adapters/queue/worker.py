"""Entry module for `dramatiq` worker processes (`kaquan worker`): installs the broker, then the actors."""

from adapters.bootstrap import install_broker
from adapters.settings import Settings

broker = install_broker(Settings())
