"""What the conversation means: protocol verdicts per message, and each Envoy's resources over time."""
