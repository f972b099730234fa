# Managed by plumb: local edits are reverted.
# Idle interactive shells end after 10 minutes (ANSSI BP-028, CIS 5.5.5),
# read-only so a user cannot lift it. /etc/profile is read by dash too, which
# has no declare: bash, ksh and zsh get `declare -xr`, other shells
# readonly + export. Set once: a second read of /etc/profile (a nested
# login shell) must not fail on the read-only variable.
if [ "${TMOUT-}" != 600 ]; then
	if [ -n "${BASH_VERSION-}${KSH_VERSION-}${ZSH_VERSION-}" ]; then
		declare -xr TMOUT=600
	else
		TMOUT=600
		readonly TMOUT
		export TMOUT
	fi
fi
