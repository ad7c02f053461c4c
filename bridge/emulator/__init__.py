"""The virtual Belgian eID card: applet profiles 1.7 and 1.8, its test PKI, and the vpcd
adapter that lets pcscd, OpenSC and pyscard see it as a card in a real reader."""
