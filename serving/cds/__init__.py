"""CDS Hooks 2.0: discovery, the patient-view service, its cards, feedback and the client's JWT."""
