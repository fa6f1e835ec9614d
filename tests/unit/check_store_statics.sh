#!/bin/sh
# store/ must hold no writable static data (the keyspace must be splittable
# across cores): no symbols in .data/.bss of the store library's objects.
lib="$1"
bad=$(nm "$lib" | awk '$2 ~ /^[dDbB]$/ {print $3}')
if [ -n "$bad" ]; then
  echo "writable static data in store/: $bad"
  exit 1
fi
echo "store/ has no writable static data"
