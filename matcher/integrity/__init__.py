"""Integrity screening: the policy (flags, Global Compact, verification, capacity) and the UN
sanctions list.
"""
