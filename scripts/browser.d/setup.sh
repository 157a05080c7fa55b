# Sourced by the scripts that drive headless Chromium (scripts/dashboard-check, scripts/sdk-js-check, scripts/demo-check, scripts/bench/dashboard-cost.sh): installs Debian's chromium and
# chromium-driver with apt-get when missing (as root), and selenium, pinned (scripts/browser.d/requirements.txt), into
# .build/browser-venv; sets $python to that environment's interpreter.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "Installing ${missing[*]} with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "Missing ${missing[*]}: run 'sudo apt-get install ${missing[*]}' first" >&2
        exit 1
    fi
fi
requirements=scripts/browser.d/requirements.txt
venv=.build/browser-venv
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
    python3 -m venv --clear "$venv"
    echo "Installing $(grep -v '^#' "$requirements" | tr '\n' ' ')into $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/requirements.txt"
fi
python=$venv/bin/python
