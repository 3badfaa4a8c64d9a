"""Playbooks: triggers, audiences, cascades, policy (caps, quiet hours, consent), arbitration,
holdouts, the planner and replay."""
