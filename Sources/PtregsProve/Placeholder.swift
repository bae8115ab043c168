public enum _PlaceholderPtregsProve {}
