"""Other implementations of the Zircon VMO calls, as profiles (docs/kernel-facts.md).

One file each: the profile (zircon-2025's choices where nothing else is stated, then its
own), and the table of overrides (spec/overrides.py) that replaces the parts of
Zircon's code it does otherwise, with the small functions the table names.
spec/profiles.py registers them.
"""
