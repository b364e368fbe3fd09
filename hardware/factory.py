"""Pin factories: gpiozero's default on a Pi, its MockFactory elsewhere."""


def mock_pin_factory():
    """A fresh gpiozero ``MockFactory``: pins driven by tests or the keyboard."""
    from gpiozero.pins.mock import MockFactory

    return MockFactory()
