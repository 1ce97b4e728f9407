#!/usr/bin/env bash
# Derives src/Safeguard.Core/Users/common-passwords.txt.gz, the password blocklist shipped with Safeguard, from the
# MIT-licensed password list of @zxcvbn-ts/language-common (the zxcvbn list of the most common passwords found in
# public breach corpora; copyright Dan Wheeler, Dropbox, Inc. and @zxcvbn-ts). Run by hand when the list is refreshed;
# nothing is downloaded at run time. Needs node and npm.
#
# What is kept: every entry of at least 8 code points (shorter ones are refused by the length rule before the list
# is asked), normalised to NFKC and lower-cased (the check is case-insensitive), sorted ordinally, one per line,
# gzip-compressed.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=${1:-4.1.3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "@zxcvbn-ts/language-common@$version" >/dev/null 2>&1 && tar xzf ./*.tgz)
node -e '
  const list = require(process.argv[1]);
  const kept = [...new Set(list.map(p => p.normalize("NFKC").toLowerCase()).filter(p => [...p].length >= 8))];
  kept.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  process.stdout.write(kept.join("\n") + "\n");
' "$work/package/src/passwords.json" | gzip -9n > src/Safeguard.Core/Users/common-passwords.txt.gz
cp "$work/package/LICENSE.txt" tools/blocklist/LICENSE-zxcvbn-ts.txt
echo "wrote src/Safeguard.Core/Users/common-passwords.txt.gz ($(zcat src/Safeguard.Core/Users/common-passwords.txt.gz | wc -l) entries)"
