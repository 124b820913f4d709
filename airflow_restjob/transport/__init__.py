"""HTTP drivers (requests for workers, aiohttp for the triggerer), SigV4 signing and the quota gate."""
