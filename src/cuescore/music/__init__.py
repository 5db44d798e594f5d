"""Music domain: chord vocabulary, keys, voicing, MusicPlan, Score and the arranger."""
