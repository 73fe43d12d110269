"""The on-device trace runner (runner.c), its host build (host/) and the `device` backend.

See notes/device.md for the design and the compact batch formats.
"""
