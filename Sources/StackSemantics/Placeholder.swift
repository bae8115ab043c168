public enum _PlaceholderStackSemantics {}
