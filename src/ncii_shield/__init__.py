"""ncii-shield: find a consenting person's photos, face and details in collected content."""

__version__ = "0.1.0"
