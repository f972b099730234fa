# Managed by plumb: local edits are reverted.
# Idle interactive shells end after 15 minutes (CIS 5.5.5).
TMOUT=900
readonly TMOUT
export TMOUT
