­
"serve¡ž
›

__inference__