# The system user both daemons run as (sourced into their postinst).
if ! getent passwd cascade >/dev/null; then
  adduser --system --group --quiet --home /var/lib/cascade --no-create-home \
    --gecos "Cascade relay network" cascade
fi
