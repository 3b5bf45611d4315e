"""Storage of governance records (airlock); the rules that drive them are in secure_bubble."""
