"""The identity rules' clock: the shared one of the bus kit."""

from bus.clock import Clock, FakeClock, SystemClock

__all__ = ["Clock", "FakeClock", "SystemClock"]
