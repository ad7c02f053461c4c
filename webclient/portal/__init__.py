"""The professional portal: accounts, organisations, tools, wallet, syndic registration."""
