"""The data path: forwards raw bytes between Envoy and its control plane and publishes what passes.

Nothing here decodes xDS, touches the disk or waits on a subscriber; it must
not import xdsspy.record, xdsspy.decode or any UI library (tested).
"""
