// replaced by the wire codec
