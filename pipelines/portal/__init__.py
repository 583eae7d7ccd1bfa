"""The submission portal (README, "The submission portal"): agencies sign in, upload a return, read what a run would
make of it and submit it into data/landing/. It keeps its own store (store.py) and never opens the warehouse."""
