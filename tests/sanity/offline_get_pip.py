"""A stand-in for pypa's get-pip.py, for ansible-test on machines that reach only PyPI.

ansible-test bootstraps pip into each sanity virtualenv with a get-pip.py script that it
downloads from ci-files.testing.ansible.com, a host these machines cannot reach. This
script does the same job from what is here: pip from the interpreter's bundled ensurepip
wheel, then `pip install` of exactly the packages ansible-test asked for (from PyPI).

`python offline_get_pip.py --cache` copies this file to the path ansible-test looks in
first (~/.ansible/test/cache/get_pip_<version>.py); ansible-test then runs it with the
arguments it would give get-pip.py.
"""

import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

# get-pip.py options that pip itself does not know.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def cache():
    from ansible_test._internal.python_requirements import get_venv_packages

    version = get_venv_packages(SimpleNamespace(version=f"{sys.version_info[0]}.{sys.version_info[1]}"))["pip"]
    target = os.path.expanduser(f"~/.ansible/test/cache/get_pip_{version.replace('.', '_')}.py")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(__file__, target)
    print(target)


def bootstrap(args):
    # In a child process: ensurepip blanks pip's configuration (PIP_CONFIG_FILE=/dev/null)
    # in the process it runs in, and the install below needs the machine's pip settings.
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
    pip_args = [arg for arg in args if arg not in GET_PIP_ONLY]
    return subprocess.call([sys.executable, "-m", "pip", "install", "--upgrade", *pip_args])


if __name__ == "__main__":
    if sys.argv[1:] == ["--cache"]:
        cache()
    else:
        sys.exit(bootstrap(sys.argv[1:]))
