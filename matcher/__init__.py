"""partnermatch's domain and algorithms: plain data in, plain data out."""
