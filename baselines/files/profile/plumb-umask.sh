# Managed by plumb: local edits are reverted.
# New files of login shells are private to their owner (ANSSI BP-028 R36);
# the same value as UMASK in /etc/login.defs (pam_umask) and
# /etc/bash.bashrc.
umask 077
