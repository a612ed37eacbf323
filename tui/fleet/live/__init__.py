"""The console's connections to live agents: the one part of the fleet model's code that speaks gRPC
(through core/client.AgentClient). Everything else in tui/fleet is pure and imports nothing from here."""
