"""Files in and out: data directories, taxonomy and initiative files, CORDIS, the generator."""
