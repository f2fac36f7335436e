"""Things that write interactions: file replays and the simulated world."""
