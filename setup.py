"""coretune_mm: Core-tuning for MMPretrain and MMSegmentation.

torch, torchvision and mmcv are deliberately not listed: they must match each
other binary-for-binary (mmcv's compiled ops are built against the installed
torch), so ``tools/setup_env.sh`` installs them before this package.
"""
from setuptools import find_packages, setup


def read_version() -> str:
    namespace = {}
    with open('coretune_mm/version.py') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements(path: str) -> list:
    with open(path) as f:
        return [
            line.strip() for line in f
            if line.strip() and not line.startswith('#')
        ]


# The two-command set-up (tools/setup_env.sh) installs the exact versions it
# was verified with; these ranges are what a working OpenMMLab environment
# needs (`pip install -e .` / `mim install -e .`).
HOSTS = [
    'mmengine>=0.10.7,<1.0.0',
    'mmpretrain>=1.2.0,<1.3.0',
    'mmsegmentation>=1.2.2,<1.3.0',
]
DEMO = ['scikit-learn', 'matplotlib']  # digits images; plots

setup(
    name='coretune_mm',
    version=read_version(),
    description='Core-tuning (contrast-regularized fine-tuning) for '
    'MMPretrain and MMSegmentation',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['coretune_mm', 'coretune_mm.*']),
    # the host libraries' layout: configs, tools and the model index under
    # the package's .mim/ (links to the repository's folders), which
    # `_base_ = 'coretune_mm::...'` and `mim` read from an installed package
    package_data={
        'coretune_mm': [
            '.mim/model-index.yml', '.mim/configs/**/*.py',
            '.mim/configs/**/*.yml', '.mim/tools/**/*.py', '.mim/tools/*.sh'
        ]
    },
    python_requires='>=3.9',
    install_requires=HOSTS + [
        'ftfy',
        'regex',
        'numpy<2',
        # mmengine imports pkg_resources, gone from setuptools 81; torch
        # 2.14 asks for >= 77 (which itself needs Python >= 3.9).
        'setuptools>=77,<81',
    ],
    extras_require=dict(
        mim=read_requirements('requirements/mminstall.txt'),
        demo=DEMO,
        tests=DEMO + [
            'pytest', 'pytorch-metric-learning', 'flake8==7.5.0',
            'isort==9.0.2', 'yapf==0.43.0', 'codespell==2.4.3',
            'docformatter==1.7.5'
        ]),
    license='Apache License 2.0',
)
