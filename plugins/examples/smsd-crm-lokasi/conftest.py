# Run from a checkout without installing: pytest puts this folder on sys.path, so the tests import
# the plugin's source (once installed with pip, the same tests import the installed package).
