"""The lab: the reference gateway, seed data, fault injection and the local lab under supervisord."""
