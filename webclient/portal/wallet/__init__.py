"""The organisations' prepaid wallets: the ledger service, online top-ups, bank transfers."""
