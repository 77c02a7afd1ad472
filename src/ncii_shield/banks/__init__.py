"""Hash banks: lists of hashes from elsewhere (StopNCII, partners, platforms), matched on every scan."""
