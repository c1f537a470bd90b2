"""The engines and services that own transactions: connecting shops, pulling, pushing."""
