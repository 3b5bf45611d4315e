"""Participants and their responses, known by study pseudonym only."""
