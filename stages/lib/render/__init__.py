"""From conversations to training tokens: chat templates, tokenisation with offsets, loss masks, lengths, packing."""
