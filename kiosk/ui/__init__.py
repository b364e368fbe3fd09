"""The Kivy screens of the terminal: the only part of ``kiosk`` that imports Kivy.

Import :func:`kiosk.ui.launch.launch` to run them; this package's
``__init__`` imports nothing, so Kivy's settings can still be made before its
window exists.
"""
