"""gempool keypool: chooses an upstream key for every attempt and learns from every outcome."""
