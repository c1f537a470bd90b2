"""Local stand-ins for the sales channels' APIs, used by the demo, tests and benchmarks.

Each sandbox is standalone: it imports nothing from the rest of shopbridge.
"""
